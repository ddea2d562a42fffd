# A sysbatch job: run the package update once on every client, a few nodes at a time.
job "os-patch" {
  datacenters = ["dc1", "dc2"]
  type        = "sysbatch"

  constraint {
    attribute = "${attr.os.name}"
    value     = "ubuntu"
  }

  group "patch" {
    restart {
      attempts = 1
      delay    = "30s"
      mode     = "fail"
    }

    task "apt" {
      driver = "raw_exec"
      user   = "root"

      config {
        command = "/bin/sh"
        args    = ["-c", "apt-get update && apt-get -y upgrade"]
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
