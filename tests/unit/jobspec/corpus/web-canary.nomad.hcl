# A web service rolled out with canaries: job-level update merged into the group's, auto_promote,
# canary tags and meta, and a migrate strategy for drains.
job "web-canary" {
  datacenters = ["dc1"]

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "4m"
    progress_deadline = "12m"
    auto_revert       = true
    stagger           = "45s"
  }

  migrate {
    max_parallel     = 2
    health_check     = "task_states"
    min_healthy_time = "20s"
    healthy_deadline = "6m"
  }

  group "frontend" {
    count = 6

    update {
      canary       = 2
      auto_promote = true
      max_parallel = 3
    }

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name        = "frontend"
      port        = "http"
      provider    = "nomad"
      tags        = ["web", "v2"]
      canary_tags = ["canary"]

      meta {
        version = "2.4.1"
      }

      canary_meta {
        version = "2.5.0-rc1"
      }

      check {
        type     = "http"
        path     = "/healthz"
        interval = "5s"
        timeout  = "1s"
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/frontend:2.5.0-rc1"
        ports = ["http"]
      }

      resources {
        cpu    = 250
        memory = 192
      }
    }
  }
}
