# env and meta written both ways: as blocks and as map attributes, at job, group and task level.
job "env-meta" {
  datacenters = ["dc1"]

  meta {
    team  = "payments"
    owner = "alice@example.com"
  }

  group "workers" {
    meta = {
      queue       = "high"
      "shard.id"  = "7"
      concurrency = 16
      enabled     = true
    }

    task "block-form" {
      driver = "docker"

      config {
        image = "busybox:1.36"
        command = "env"
      }

      env {
        LOG_LEVEL = "debug"
        PORT      = 8080
        DEBUG     = false
      }

      meta {
        role = "primary"
      }
    }

    task "map-form" {
      driver = "docker"

      config {
        image = "busybox:1.36"
        command = "env"
      }

      env = {
        "LOG_LEVEL"      = "info"
        "HTTP_PROXY"     = "http://proxy.internal:3128"
        "ALLOC_INDEX"    = "${NOMAD_ALLOC_INDEX}"
        "with.dot"       = "yes"
      }

      meta = {
        role = "replica"
      }
    }
  }
}
