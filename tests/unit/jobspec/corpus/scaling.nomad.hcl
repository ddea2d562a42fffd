# Horizontal autoscaling bounds and a Nomad Autoscaler policy (free-form, kept as written).
job "autoscaled" {
  datacenters = ["dc1"]

  group "web" {
    count = 3

    scaling {
      enabled = true
      min     = 2
      max     = 20

      policy {
        cooldown            = "1m"
        evaluation_interval = "30s"

        check "avg_cpu" {
          source = "nomad-apm"
          query  = "avg_cpu-allocated"

          strategy "target-value" {
            target = 70
          }
        }

        check "p95_latency" {
          source = "prometheus"
          query  = "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))"

          strategy "threshold" {
            upper_bound = 0.5
            delta       = 2
          }
        }
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:8.1.0"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
