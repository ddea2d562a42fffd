# A group scaled to zero: registered but running nothing (and a second group left at the default).
job "standby" {
  datacenters = ["dc1"]

  group "standby" {
    count = 0

    task "worker" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/worker:2.0"
      }
    }
  }

  group "active" {
    task "worker" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/worker:2.0"
      }
    }
  }
}
