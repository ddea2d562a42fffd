# Log rotation and the shared ephemeral disk: bigger logs for one task, none for another.
job "logs" {
  datacenters = ["dc1"]

  group "app" {
    ephemeral_disk {
      size = 2048
    }

    task "chatty" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/chatty:1.0"
      }

      logs {
        max_files     = 5
        max_file_size = 50
      }
    }

    task "quiet" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/quiet:1.0"
      }

      logs {
        disabled = true
      }
    }
  }
}
