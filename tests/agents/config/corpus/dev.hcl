# Used with -dev: the dev defaults, plus docker settings for local experiments.
log_level = "info"

plugin "docker" {
  config {
    allow_privileged = true

    volumes {
      enabled = true
    }
  }
}
