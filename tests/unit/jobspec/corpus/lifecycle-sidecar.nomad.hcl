# Task lifecycle: a prestart init task, a prestart sidecar, a poststart hook, a poststop cleanup,
# the leader task, kill timeouts and signals, shutdown delays.
job "lifecycle" {
  datacenters = ["dc1"]

  group "app" {
    shutdown_delay = "5s"

    task "wait-for-db" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "busybox:1.36"
        command = "sh"
        args    = ["-c", "until nc -z db.service.internal 5432; do sleep 1; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "log-shipper" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        image = "fluent/fluent-bit:3.1"
      }

      kill_timeout = "30s"
      kill_signal  = "SIGINT"
    }

    task "app" {
      driver         = "docker"
      leader         = true
      kill_timeout   = "45s"
      kill_signal    = "SIGTERM"
      shutdown_delay = "10s"

      config {
        image = "ghcr.io/acme/app:4.0.0"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }

    task "announce" {
      driver = "raw_exec"

      lifecycle {
        hook = "poststart"
      }

      config {
        command = "/usr/local/bin/announce"
        args    = ["${NOMAD_ALLOC_ID}"]
      }
    }

    task "cleanup" {
      driver = "raw_exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/usr/local/bin/cleanup"
      }
    }
  }
}
