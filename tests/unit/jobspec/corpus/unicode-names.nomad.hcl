# Unicode everywhere a name or value may be: group, task and service names, meta keys and values.
job "übersetzung" {
  datacenters = ["dc1"]
  name        = "Übersetzung – 翻訳"

  # HCL identifiers are Unicode identifiers: these keys need no quotes.
  meta {
    描述     = "日本語のメタデータ"
    greeting = "¡Hola, señor! Ça va? Привет 👋"
    ключ     = "значение"
  }

  group "κέντρο" {
    count = 2

    service {
      name     = "translate"  # service names must be DNS labels, even here
      provider = "nomad"
      tags     = ["ελληνικά", "中文"]
    }

    task "任务" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/translate:1.0"
        args  = ["--greeting", "¡hola!", "--emoji", "🚀"]
      }

      env {
        LANG     = "de_DE.UTF-8"
        GREETING = "Grüß Gott"
      }
    }
  }
}
