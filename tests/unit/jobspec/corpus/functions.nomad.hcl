# HCL functions evaluated at parse time: format, join, upper, lower, merge, lookup, concat,
# length, replace, split, trimspace, coalesce, min, max, element, keys, contains, jsonencode.
locals {
  base_tags = ["api", "internal"]
  extra     = { owner = "team-a", cost_center = "cc-42" }
  env       = "Prod"
  ports     = [8080, 8081, 8082]
}

job "functions" {
  datacenters = [lower("DC1")]
  name        = format("%s-%s", "functions", lower(local.env))

  meta = merge(local.extra, {
    environment = upper(local.env)
    tags        = join(",", concat(local.base_tags, ["v${length(local.ports)}"]))
    owner_or    = lookup(local.extra, "owner", "nobody")
    missing_or  = lookup(local.extra, "missing", "fallback")
    first_port  = element(local.ports, 0)
    port_range  = format("%d-%d", min(local.ports...), max(local.ports...))
    keys        = join("|", keys(local.extra))
    has_api     = contains(local.base_tags, "api")
    cleaned     = trimspace("   padded   ")
    replaced    = replace("a-b-c", "-", "_")
    second      = split(",", "x,y,z")[1]
    coalesced   = coalesce("", "first-non-empty")
    json        = jsonencode({ a = 1, b = [true, null] })
  })

  group "api" {
    count = length(local.ports)

    task "api" {
      driver = "docker"

      config {
        image = format("ghcr.io/acme/%s:%s", "api", "2.0")
        args  = [for p in local.ports : "--port=${p}"]
      }
    }
  }
}
