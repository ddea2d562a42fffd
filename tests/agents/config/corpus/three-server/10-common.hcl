# Shared by the three servers of region "eu" (each adds its name with -node).
region     = "eu"
datacenter = "eu-west-1a"
data_dir   = "/var/lib/caravan"
bind_addr  = "0.0.0.0"
log_level  = "WARN"

server {
  enabled          = true
  bootstrap_expect = 3
  encrypt          = "cg8StVXbQJ0gPvMd9o7yrg8StVXbQJ0gPvMd9o7yrg8="

  server_join {
    retry_join     = ["10.0.1.10", "10.0.1.11"]
    retry_interval = "15s"
    retry_max      = 10
  }
}

acl {
  enabled   = true
  token_ttl = "1m"
}

consul {
  address = "127.0.0.1:8500"
}
