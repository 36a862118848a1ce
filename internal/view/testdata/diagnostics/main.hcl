variable "size" {
  type = string
}

volume "cache" {
  thin_pool = thin_pool.fast.name
  sise      = "200G"
  size      = var.size * 2
}

machine "runner" {
  image    = image.runner.name
  volatile = "overlay"
}
