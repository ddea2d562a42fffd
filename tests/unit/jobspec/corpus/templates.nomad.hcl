# Templates: inline heredoc data, a source file, env templates, wait bounds, signal and script change modes.
job "templated" {
  datacenters = ["dc1"]

  group "app" {
    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.27-alpine"
        volumes = ["local/nginx.conf:/etc/nginx/conf.d/default.conf"]
      }

      template {
        data = <<EOT
upstream backend {
{{ range nomadService "api" }}
  server {{ .Address }}:{{ .Port }};
{{ else }}
  server 127.0.0.1:65535; # force a 502
{{ end }}
}

server {
  listen 80;
  location / {
    proxy_pass http://backend;
  }
}
EOT

        destination   = "local/nginx.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        splay         = "10s"

        wait {
          min = "2s"
          max = "20s"
        }
      }

      template {
        source      = "local/app.env.tpl"
        destination = "secrets/app.env"
        env         = true
        perms       = "0600"
        uid         = 1000
        gid         = 1000
        change_mode = "restart"
        error_on_missing_key = true
      }

      template {
        data            = "refresh=[[ timestamp ]]\n"
        destination     = "local/refresh.txt"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "script"

        change_script {
          command       = "/local/reload.sh"
          args          = ["-q", "--graceful"]
          timeout       = "20s"
          fail_on_error = true
        }
      }

      template {
        data        = "static content"
        destination = "local/static.txt"
        change_mode = "noop"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
