# Group networking in bridge mode: static and dynamic ports, port mapping, host networks, DNS.
job "gateway" {
  datacenters = ["dc1"]

  group "edge" {
    network {
      mode     = "bridge"
      hostname = "edge-${NOMAD_ALLOC_INDEX}"

      port "http" {
        static = 80
        to     = 8080
      }

      port "https" {
        static       = 443
        to           = 8443
        host_network = "public"
      }

      port "metrics" {
        to = 9102
      }

      port "admin" {
        host_network = "private"
      }

      dns {
        servers  = ["10.0.0.2", "1.1.1.1"]
        searches = ["service.internal", "internal"]
        options  = ["ndots:2", "timeout:1"]
      }
    }

    task "envoy" {
      driver = "docker"

      config {
        image = "envoyproxy/envoy:v1.31-latest"
        ports = ["http", "https", "metrics", "admin"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
