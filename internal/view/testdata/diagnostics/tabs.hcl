volume "scratch" {
	labels = ["café", 7]
}
