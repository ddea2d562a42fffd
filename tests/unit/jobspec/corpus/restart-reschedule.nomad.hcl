# Restart policies in both modes and reschedule policies with each delay function,
# job-level reschedule merged into the groups, and an unlimited policy.
job "resilient" {
  datacenters = ["dc1"]

  reschedule {
    delay          = "20s"
    delay_function = "exponential"
    max_delay      = "10m"
    unlimited      = true
  }

  group "constant" {
    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "fail"
    }

    reschedule {
      attempts       = 5
      interval       = "1h"
      delay          = "30s"
      delay_function = "constant"
      unlimited      = false
    }

    task "a" {
      driver = "docker"
      config {
        image = "busybox:1.36"
      }
    }
  }

  group "exponential" {
    restart {
      attempts = 10
      interval = "30m"
      delay    = "25s"
      mode     = "delay"
      render_templates = true
    }

    task "b" {
      driver = "docker"
      config {
        image = "busybox:1.36"
      }
    }
  }

  group "fibonacci" {
    reschedule {
      delay_function = "fibonacci"
      delay          = "15s"
      max_delay      = "30m"
    }

    task "c" {
      driver = "docker"

      restart {
        attempts = 1
      }

      config {
        image = "busybox:1.36"
      }
    }
  }
}
