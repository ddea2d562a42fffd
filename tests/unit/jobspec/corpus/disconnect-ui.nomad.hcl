# Edge workloads on flaky links: disconnect blocks (keep the original allocation, or replace it and
# stop the disconnected one), and the job's description and links in the web UI.
job "edge-agent" {
  datacenters = ["edge-*"]
  node_pool   = "edge"

  ui {
    description = "Edge agent. Runbook: **restart the gateway first**."

    link {
      label = "Runbook"
      url   = "https://wiki.example.com/runbooks/edge-agent"
    }

    link {
      label = "Dashboards"
      url   = "https://grafana.example.com/d/edge"
    }
  }

  group "agent" {
    disconnect {
      lost_after = "6h"
      replace    = false
      reconcile  = "keep_original"
    }

    task "agent" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/edge-agent:0.9.4"
      }
    }
  }

  group "collector" {
    disconnect {
      stop_on_client_after = "90s"
      replace              = true
      reconcile            = "best_score"
    }

    task "collector" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/collector:0.9.4"
      }
    }
  }
}
