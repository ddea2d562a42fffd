# A system job: one node exporter on every Linux client of every datacenter, in all node pools.
job "node-exporter" {
  datacenters = ["*"]
  type        = "system"
  node_pool   = "all"
  priority    = 90

  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "="
    value     = "linux"
  }

  update {
    max_parallel = 5
    stagger      = "10s"
  }

  group "exporter" {
    network {
      port "metrics" {
        static = 9100
      }
    }

    service {
      name     = "node-exporter"
      port     = "metrics"
      provider = "nomad"
    }

    task "node-exporter" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/node_exporter"
        args    = ["--web.listen-address=:${NOMAD_PORT_metrics}", "--path.rootfs=/"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
