# Later files win; the join list grows.
server {
  heartbeat_grace   = "30s"
  num_schedulers    = 2
  node_gc_threshold = "48h"
  job_gc_threshold  = "2h"

  server_join {
    retry_join = ["10.0.1.11", "10.0.1.12"]
  }
}

addresses {
  http = "127.0.0.1"
}

ports {
  http = 5646
}
