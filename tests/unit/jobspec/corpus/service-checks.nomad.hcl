# Services with every kind of check: http (headers, method, body, TLS), tcp, script, grpc;
# check_restart on a service and on a single check; group services pointing at a task.
job "api-checks" {
  datacenters = ["dc1"]

  group "api" {
    count = 2

    network {
      port "http" {
        to = 8000
      }
      port "grpc" {
        to = 9090
      }
      port "admin" {}
    }

    service {
      name         = "api"
      port         = "http"
      task         = "server"
      tags         = ["api", "public"]
      address_mode = "host"
      on_update    = "require_healthy"

      check_restart {
        limit           = 3
        grace           = "90s"
        ignore_warnings = true
      }

      check {
        name            = "api-http"
        type            = "http"
        protocol        = "https"
        path            = "/v1/health"
        method          = "POST"
        body            = "{\"deep\": true}"
        interval        = "10s"
        timeout         = "3s"
        initial_status  = "warning"
        tls_skip_verify = true
        tls_server_name = "api.internal"

        header {
          Authorization = ["Bearer health-token"]
          X-Probe       = ["nomad", "caravan"]
        }

        success_before_passing   = 2
        failures_before_critical = 3
      }

      check {
        name     = "api-tcp"
        type     = "tcp"
        port     = "admin"
        interval = "15s"
        timeout  = "2s"
      }

      check {
        name     = "api-script"
        type     = "script"
        task     = "server"
        command  = "/usr/local/bin/check-db"
        args     = ["--quick", "--timeout", "2"]
        interval = "30s"
        timeout  = "5s"
        on_update = "ignore_warnings"

        check_restart {
          limit = 2
          grace = "1m"
        }
      }
    }

    service {
      name = "api-grpc"
      port = "grpc"
      task = "server"

      check {
        type            = "grpc"
        grpc_service    = "acme.api.v1.Health"
        grpc_use_tls    = true
        interval        = "10s"
        timeout         = "2s"
        failures_before_warning = 1
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/api:1.9.3"
        ports = ["http", "grpc", "admin"]
      }

      service {
        name = "api-metrics"
        port = "admin"
        tags = ["metrics"]
        address_mode = "driver"

        check {
          type     = "http"
          path     = "/metrics"
          port     = "admin"
          interval = "20s"
          timeout  = "2s"
          address_mode = "driver"
        }
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
