variable "runners" {
  type    = number
  default = 4
}

machine "runner" {
  count = var.runners
  image = image.runner.name
}
