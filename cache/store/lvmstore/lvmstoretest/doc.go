// Package lvmstoretest tests the LVM cache store against real LVM thin
// pools, inside rigplan's User-Mode Linux test kernel (package testhost):
// the machines that run the tests have no device-mapper of their own.
// It has no code outside its tests.
package lvmstoretest
