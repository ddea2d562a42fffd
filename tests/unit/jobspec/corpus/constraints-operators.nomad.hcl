# Every constraint operator, in its long form and in its shorthand, at job, group and task level.
job "constraints" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "="
    value     = "linux"
  }

  constraint {
    attribute = "${node.class}"
    operator  = "!="
    value     = "spot"
  }

  constraint {
    attribute = "${attr.cpu.numcores}"
    operator  = ">="
    value     = "4"
  }

  constraint {
    attribute = "${attr.memory.totalbytes}"
    operator  = ">"
    value     = "4294967296"
  }

  constraint {
    attribute = "${attr.unique.storage.bytesfree}"
    operator  = "<"
    value     = "999999999999999"
  }

  constraint {
    attribute = "${meta.generation}"
    operator  = "<="
    value     = "9"
  }

  constraint {
    attribute = "${attr.os.version}"
    operator  = "regexp"
    value     = "^2[24]\\.04"
  }

  constraint {
    attribute = "${meta.zones}"
    operator  = "set_contains"
    value     = "a,b"
  }

  constraint {
    attribute = "${meta.features}"
    operator  = "set_contains_any"
    value     = "avx2,avx512"
  }

  constraint {
    attribute = "${meta.tags}"
    operator  = "set_contains_all"
    value     = "ssd,10g"
  }

  constraint {
    attribute = "${attr.driver.docker.version}"
    operator  = "version"
    value     = ">= 20.10, < 30"
  }

  constraint {
    attribute = "${attr.nomad.version}"
    operator  = "semver"
    value     = ">= 1.6.0-beta.1"
  }

  constraint {
    attribute = "${meta.rack}"
    operator  = "is_set"
  }

  constraint {
    attribute = "${meta.quarantined}"
    operator  = "is_not_set"
  }

  constraint {
    operator = "distinct_hosts"
    value    = "true"
  }

  constraint {
    operator  = "distinct_property"
    attribute = "${meta.rack}"
    value     = "2"
  }

  group "shorthands" {
    count = 4

    constraint {
      distinct_hosts = true
    }

    constraint {
      distinct_property = "${node.datacenter}"
    }

    constraint {
      attribute = "${attr.kernel.version}"
      version   = "> 5.10"
    }

    constraint {
      attribute = "${attr.nomad.version}"
      semver    = "~> 1.8"
    }

    constraint {
      attribute = "${attr.unique.hostname}"
      regexp    = "^web-[0-9]+$"
    }

    constraint {
      attribute    = "${meta.roles}"
      set_contains = "frontend"
    }

    constraint {
      attribute        = "${meta.roles}"
      set_contains_any = "frontend,edge"
    }

    constraint {
      attribute        = "${meta.roles}"
      set_contains_all = "frontend,public"
    }

    task "app" {
      driver = "docker"

      constraint {
        attribute = "${attr.driver.docker}"
        value     = "1"
      }

      config {
        image = "nginx:1.27"
      }
    }
  }
}
