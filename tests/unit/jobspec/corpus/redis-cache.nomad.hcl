# A Redis cache pinned to Linux hosts, with a static port, a sticky migrating disk and a TCP check.
job "redis-cache" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 70

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  group "cache" {
    count = 3

    network {
      port "redis" {
        static = 6379
      }
    }

    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 1024
    }

    service {
      name     = "redis"
      port     = "redis"
      provider = "nomad"
      tags     = ["cache", "redis"]

      check {
        name     = "redis-alive"
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image   = "redis:7.2-alpine"
        ports   = ["redis"]
        command = "redis-server"
        args    = ["--maxmemory", "200mb", "--maxmemory-policy", "allkeys-lru", "--dir", "/alloc/data"]
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
