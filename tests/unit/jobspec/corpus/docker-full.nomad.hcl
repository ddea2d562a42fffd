# The docker driver with most of its options: ports, mount blocks, a logging block, labels,
# registry auth, capabilities, ulimits, sysctls and extra hosts.
job "docker-full" {
  datacenters = ["dc1"]

  group "app" {
    network {
      port "http" {
        to = 8080
      }
      port "debug" {}
    }

    task "app" {
      driver = "docker"

      config {
        image        = "registry.example.com/acme/app:6.3.1"
        force_pull   = true
        entrypoint   = ["/sbin/tini", "--"]
        command      = "/app/server"
        args         = ["--port", "8080", "--debug-port", "${NOMAD_PORT_debug}"]
        work_dir     = "/app"
        hostname     = "${NOMAD_TASK_NAME}-${NOMAD_ALLOC_INDEX}"
        ports        = ["http", "debug"]
        network_mode = "bridge"
        init         = true
        readonly_rootfs = true
        shm_size     = 134217728
        pids_limit   = 512
        extra_hosts  = ["db.internal:10.0.0.20", "cache.internal:10.0.0.21"]
        dns_servers  = ["10.0.0.2"]
        cap_add      = ["net_bind_service"]
        cap_drop     = ["all"]
        security_opt = ["no-new-privileges"]
        volumes      = ["local/app.yaml:/etc/app/app.yaml:ro"]

        auth {
          username       = "robot$ci"
          password       = "${NOMAD_META_registry_password}"
          server_address = "registry.example.com"
        }

        mount {
          type     = "bind"
          source   = "local/certs"
          target   = "/etc/ssl/app"
          readonly = true
          bind_options {
            propagation = "rshared"
          }
        }

        mount {
          type   = "tmpfs"
          target = "/tmp"
          readonly = false
          tmpfs_options {
            size = 100000
            mode = 1777
          }
        }

        mount {
          type   = "volume"
          source = "app-cache"
          target = "/var/cache/app"
          volume_options {
            no_copy = false
            labels {
              owner = "app"
            }
            driver_config {
              name = "local"
              options {
                type = "nfs"
              }
            }
          }
        }

        logging {
          type = "fluentd"
          config {
            fluentd-address = "localhost:24224"
            tag             = "app.${NOMAD_ALLOC_ID}"
          }
        }

        labels {
          team    = "platform"
          service = "app"
        }

        ulimit {
          nofile = "65536:65536"
          nproc  = "8192"
        }

        # Keys that are not identifiers need the map form (a block body holds identifiers only).
        sysctl = {
          "net.core.somaxconn" = "16384"
        }
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
