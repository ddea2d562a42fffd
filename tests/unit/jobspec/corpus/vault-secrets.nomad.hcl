# Vault tokens for tasks: policies, signal on change, a namespace and role, env disabled.
job "billing" {
  datacenters = ["dc1"]

  group "billing" {
    task "api" {
      driver = "docker"

      vault {
        policies      = ["billing-read", "billing-write"]
        change_mode   = "signal"
        change_signal = "SIGUSR1"
        namespace     = "finance"
        role          = "billing-api"
      }

      template {
        data        = <<-EOT
          {{ with secret "database/creds/billing" }}
          DB_USER={{ .Data.username }}
          DB_PASS={{ .Data.password }}
          {{ end }}
        EOT
        destination = "secrets/db.env"
        env         = true
      }

      config {
        image = "ghcr.io/acme/billing:5.2.0"
      }
    }

    task "worker" {
      driver = "docker"

      vault {
        env          = false
        disable_file = true
      }

      config {
        image = "ghcr.io/acme/billing-worker:5.2.0"
      }
    }
  }
}
