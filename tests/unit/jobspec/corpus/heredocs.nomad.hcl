# Heredocs: plain and indented (<<-), with interpolations inside, empty lines and trailing spaces kept.
job "heredocs" {
  datacenters = ["dc1"]

  meta {
    motd = <<EOT
Welcome to ${NOMAD_JOB_NAME}.

    Indented line stays indented.
EOT
  }

  group "g" {
    task "t" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args = ["-c", <<-SCRIPT
          set -eu
          echo "starting ${NOMAD_TASK_NAME}"
            echo "nested indent kept relative"
          exec sleep infinity
          SCRIPT
        ]
      }

      template {
        destination = "local/config.ini"
        data        = <<-INI
          [main]
          name = {{ env "NOMAD_JOB_NAME" }}

          [empty]
        INI
      }
    }
  }
}
