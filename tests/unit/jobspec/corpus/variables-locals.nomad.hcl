# HCL2 input variables (typed, with defaults and validation) and locals built from them.
variable "datacenters" {
  description = "Datacenters to run in"
  type        = list(string)
  default     = ["dc1", "dc2"]
}

variable "image_tag" {
  type    = string
  default = "1.4.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.image_tag))
    error_message = "The image_tag must be a semantic version such as 1.2.3."
  }
}

variable "replicas" {
  type    = number
  default = 3

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 50
    error_message = "Replicas must be between 1 and 50."
  }
}

variable "resources" {
  type = object({
    cpu    = number
    memory = number
  })
  default = {
    cpu    = 250
    memory = 256
  }
}

variable "labels" {
  type    = map(string)
  default = {
    env = "staging"
  }
}

variable "debug" {
  type    = bool
  default = false
}

locals {
  name     = "orders"
  image    = "ghcr.io/acme/${local.name}:${var.image_tag}"
  job_meta = merge(var.labels, { service = local.name, replicas = tostring(var.replicas) })
  log_level = var.debug ? "debug" : "info"
}

job "orders" {
  datacenters = var.datacenters
  meta        = local.job_meta

  group "orders" {
    count = var.replicas

    task "orders" {
      driver = "docker"

      config {
        image = local.image
      }

      env {
        LOG_LEVEL = local.log_level
        ENV       = var.labels["env"]
      }

      resources {
        cpu    = var.resources.cpu
        memory = var.resources.memory
      }
    }
  }
}
