# raw_exec: a host binary with its arguments, working directory and oom score.
job "host-tool" {
  datacenters = ["dc1"]
  type        = "batch"

  group "tool" {
    task "backup" {
      driver = "raw_exec"
      user   = "backup"

      config {
        command       = "/usr/local/bin/restic"
        args          = ["backup", "/srv/data", "--tag", "${NOMAD_JOB_NAME}"]
        work_dir      = "/srv"
        oom_score_adj = 500
      }

      env {
        RESTIC_REPOSITORY = "s3:https://s3.example.com/backups"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
