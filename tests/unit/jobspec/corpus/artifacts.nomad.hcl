# Artifacts: checksummed archive (options as a block), a private file (headers as a block),
# a git checkout (options as a map) and a plain download with defaults.
job "fetcher" {
  datacenters = ["dc1"]
  type        = "batch"

  group "fetch" {
    task "run" {
      driver = "raw_exec"

      artifact {
        source      = "https://releases.example.com/tool/1.4.2/tool_linux_amd64.tar.gz"
        destination = "local/tool"
        options {
          checksum = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        }
      }

      artifact {
        source      = "https://files.example.com/private/config.yaml"
        destination = "local/config.yaml"
        mode        = "file"
        chown       = true

        headers {
          Authorization = "Bearer ${NOMAD_META_download_token}"
          User-Agent    = "nomad-artifact"
        }
      }

      artifact {
        source      = "git::https://github.com/acme/scripts"
        destination = "local/scripts"
        mode        = "dir"
        options = {
          ref   = "v2.0.0"
          depth = "1"
        }
      }

      artifact {
        source = "https://example.com/data/words.txt"
      }

      config {
        command = "local/tool/tool"
        args    = ["--config", "local/config.yaml"]
      }
    }
  }
}
