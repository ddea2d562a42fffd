name       = "worker-07"
datacenter = "dc2"
data_dir   = "/srv/caravan"

client {
  enabled    = true
  servers    = ["10.0.1.10", "10.0.1.11:5647", "[fd00::12]"]
  node_class = "batch"
  node_pool  = "gpu"

  meta {
    rack     = "r12"
    owner    = "ml-team"
  }

  reserved {
    cpu            = 500
    memory         = 1024
    disk           = 2048
    reserved_ports = "22,8500-8502"
  }

  cpu_total_compute   = 12000
  disk_free_threshold = "10GiB"
  max_kill_timeout    = "2m"
}

server {
  encrypt = "cg8StVXbQJ0gPvMd9o7yrg8StVXbQJ0gPvMd9o7yrg8="
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

plugin "docker" {
  config {
    endpoint              = "unix:///run/docker.sock"
    allow_caps            = ["chown", "net_raw"]
    pull_activity_timeout = "5m"
    extra_labels          = ["job_name", "task_group_name"]

    gc {
      image       = false
      image_delay = "1h"
      container   = true
    }

    auth {
      config = "/etc/docker-auth.json"
    }
  }
}
