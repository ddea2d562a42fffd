# @@DIR@@ is replaced by the folder the test copies this file to.
data_dir = "/var/lib/caravan"

server {
  enabled          = true
  bootstrap_expect = 1
}

tls {
  http = true
  rpc  = true

  ca_file   = "@@DIR@@/ca.pem"
  cert_file = "@@DIR@@/server.pem"
  key_file  = "@@DIR@@/server-key.pem"

  verify_server_hostname = true
  verify_https_client    = false
  tls_min_version        = "tls13"
}
