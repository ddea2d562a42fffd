# A nightly batch report: several crons, no overlapping runs, in a named time zone.
job "nightly-report" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    crons            = ["0 2 * * *", "30 14 * * 1-5"]
    prohibit_overlap = true
    time_zone        = "Europe/Paris"
  }

  group "report" {
    task "build" {
      driver = "docker"

      config {
        image   = "ghcr.io/acme/reporter:3.1"
        command = "reporter"
        args    = ["--since", "24h", "--out", "${NOMAD_ALLOC_DIR}/report.pdf"]
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
