# Runtime interpolations that only a client can resolve stay exactly as written:
# ${NOMAD_*}, ${attr.*}, ${meta.*}, ${node.*}, ${env["..."]}, and escaped $${...}.
job "interp" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.unique.network.ip-address}"
    operator  = "is_set"
  }

  group "app" {
    network {
      port "http" {}
    }

    task "app" {
      driver = "docker"

      config {
        image = "busybox:1.36"
        command = "sh"
        args = [
          "-c",
          "echo ${NOMAD_ADDR_http} ${NOMAD_HOST_PORT_http} ${NOMAD_ALLOC_DIR} ${NOMAD_SECRETS_DIR}",
        ]
      }

      env {
        NODE      = "${node.unique.name}"
        DC        = "${node.datacenter}"
        CLASS     = "${node.class}"
        RACK      = "${meta.rack}"
        ARCH      = "${attr.cpu.arch}"
        HOSTIP    = "${attr.unique.network.ip-address}"
        HOME_DIR  = "${env["HOME"]}"
        MIXED     = "http://${NOMAD_IP_http}:${NOMAD_PORT_http}/${NOMAD_JOB_NAME}/${NOMAD_GROUP_NAME}"
        LITERAL   = "$${NOT_INTERPOLATED}"
        ESCAPED_TEMPLATE = "%%{ not a directive }"
      }

      template {
        data        = "addr={{ env \"NOMAD_ADDR_http\" }}\n"
        destination = "local/addr.txt"
      }
    }
  }
}
