# A classic batch job: several groups, several tasks per group, all placed at once, a high priority.
job "etl" {
  region      = "eu"
  namespace   = "analytics"
  datacenters = ["eu-west-1a", "eu-west-1b"]
  type        = "batch"
  priority    = 80
  all_at_once = true

  group "extract" {
    count = 4

    task "extract" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/etl:2024.06"
        args  = ["extract", "--shard", "${NOMAD_ALLOC_INDEX}", "--of", "4"]
      }

      resources {
        cpu    = 1500
        memory = 2048
      }
    }
  }

  group "load" {
    task "transform" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/etl:2024.06"
        args  = ["transform"]
      }
    }

    task "load" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/etl:2024.06"
        args  = ["load", "--target", "warehouse"]
      }

      resources {
        cpu    = 800
        memory = 1024
      }
    }
  }
}
