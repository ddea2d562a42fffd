# The pre-0.12 form: network (with mbits) and ports inside a task's resources block.
job "legacy-net" {
  datacenters = ["dc1"]

  group "app" {
    task "server" {
      driver = "docker"

      config {
        image = "hashicorp/http-echo:1.0"
        args  = ["-listen", ":${NOMAD_PORT_http}", "-text", "hello"]
      }

      resources {
        cpu    = 100
        memory = 64

        network {
          mbits = 10

          port "http" {}

          port "debug" {
            static = 6060
          }
        }
      }
    }
  }
}
