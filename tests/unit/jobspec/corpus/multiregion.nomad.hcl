# A multi-region deployment: two regions rolled out one at a time, failing everywhere on error.
job "checkout" {
  type = "service"

  multiregion {
    strategy {
      max_parallel = 1
      on_failure   = "fail_all"
    }

    region "west" {
      count       = 2
      datacenters = ["west-1", "west-2"]
      meta {
        tier = "primary"
      }
    }

    region "east" {
      count       = 1
      datacenters = ["east-1"]
      node_pool   = "edge"
      meta = {
        tier = "secondary"
      }
    }
  }

  update {
    max_parallel = 1
    auto_revert  = true
  }

  group "checkout" {
    count = 0

    network {
      port "http" {
        to = 3000
      }
    }

    task "app" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/checkout:7.0.2"
        ports = ["http"]
      }

      env {
        REGION = "${node.region}"
        TIER   = "${meta.tier}"
      }

      resources {
        cpu    = 400
        memory = 300
      }
    }
  }
}
