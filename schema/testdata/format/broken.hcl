volume "x" {
  size = "10G"
