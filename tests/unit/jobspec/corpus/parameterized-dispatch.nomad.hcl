# A dispatchable video transcoder: a required payload written to a file, required and optional meta.
job "transcode" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["input_url", "codec"]
    meta_optional = ["bitrate", "callback_url"]
  }

  meta {
    bitrate = "4M"
  }

  group "transcode" {
    task "ffmpeg" {
      driver = "docker"

      dispatch_payload {
        file = "job.json"
      }

      config {
        image = "jrottenberg/ffmpeg:6.1-alpine"
        args = [
          "-i", "${NOMAD_META_input_url}",
          "-c:v", "${NOMAD_META_codec}",
          "-b:v", "${NOMAD_META_bitrate}",
          "${NOMAD_TASK_DIR}/out.mp4",
        ]
      }

      resources {
        cpu    = 4000
        memory = 2048
      }
    }
  }
}
