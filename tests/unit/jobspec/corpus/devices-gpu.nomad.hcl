# GPU training: device requests with constraints and affinities, reserved cores, memory oversubscription.
job "train" {
  datacenters = ["gpu-dc"]
  type        = "batch"

  group "trainer" {
    task "pytorch" {
      driver = "docker"

      config {
        image   = "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime"
        command = "python"
        args    = ["/local/train.py", "--epochs", "30"]
      }

      resources {
        cores      = 8
        memory     = 16384
        memory_max = 24576

        device "nvidia/gpu" {
          count = 2

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "16 GiB"
          }

          affinity {
            attribute = "${device.model}"
            value     = "NVIDIA A100-SXM4-40GB"
            weight    = 75
          }
        }

        device "intel/fpga" {}
      }
    }
  }
}
