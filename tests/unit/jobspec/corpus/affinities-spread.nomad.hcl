# Placement preferences: weighted affinities (positive and negative) and spreads with and without targets.
job "search" {
  datacenters = ["us-east-1", "us-west-1", "eu-west-1"]

  affinity {
    attribute = "${node.datacenter}"
    value     = "us-east-1"
    weight    = 80
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "us-east-1" {
      percent = 50
    }

    target "us-west-1" {
      percent = 30
    }

    target "eu-west-1" {
      percent = 20
    }
  }

  group "index" {
    count = 10

    affinity {
      attribute = "${meta.instance_type}"
      operator  = "set_contains_any"
      value     = "m5.xlarge,m6i.xlarge"
      weight    = 50
    }

    affinity {
      attribute = "${node.class}"
      operator  = "!="
      value     = "burstable"
      weight    = -70
    }

    affinity {
      attribute = "${attr.kernel.version}"
      version   = ">= 6.1"
      weight    = 10
    }

    spread {
      attribute = "${meta.rack}"
    }

    task "opensearch" {
      driver = "docker"

      affinity {
        attribute = "${attr.cpu.arch}"
        value     = "amd64"
        weight    = 25
      }

      config {
        image = "opensearchproject/opensearch:2.15.0"
      }

      resources {
        cpu    = 2000
        memory = 4096
      }
    }
  }
}
