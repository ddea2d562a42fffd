# The smallest useful job: everything else comes from Nomad's defaults.
job "defaults" {
  group "g" {
    task "t" {
      driver = "docker"

      config {
        image = "alpine:3.20"
      }
    }
  }
}
