# Host and CSI volumes claimed by the group and mounted into a task.
job "postgres" {
  datacenters = ["dc1"]

  group "db" {
    volume "pgdata" {
      type            = "csi"
      source          = "pgdata"
      read_only       = false
      per_alloc       = true
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"

      mount_options {
        fs_type     = "ext4"
        mount_flags = ["noatime", "nodiratime"]
      }
    }

    volume "certs" {
      type      = "host"
      source    = "tls-certs"
      read_only = true
    }

    task "postgres" {
      driver = "docker"

      volume_mount {
        volume      = "pgdata"
        destination = "/var/lib/postgresql/data"
      }

      volume_mount {
        volume           = "certs"
        destination      = "/etc/ssl/pg"
        read_only        = true
        propagation_mode = "host-to-task"
      }

      config {
        image = "postgres:16"
      }

      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
