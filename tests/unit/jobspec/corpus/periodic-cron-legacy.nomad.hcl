# The older single `cron` form of periodic, disabled for now; Nomad accepts it with a deprecation.
job "cleanup" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    cron    = "@hourly"
    enabled = false
  }

  group "cleanup" {
    task "sweep" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/sweep"
        args    = ["--older-than", "72h"]
      }
    }
  }
}
