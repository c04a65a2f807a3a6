module github.com/ness-network/ness-sms/image

go 1.26.0

// The kernels and firmware the image is built from. No Go code imports them: the builder reads
// their files from the module cache (go mod download -json), so go.sum pins their exact bytes and
// the image is reproducible. They live in this separate module so that they never enter the main
// module's build list.
require (
	github.com/gokrazy/firmware v0.0.0-20260522070551-527ce0ed43cf
	github.com/gokrazy/kernel.arm64 v0.0.0-20260705071517-37841c4d6ff1
	github.com/gokrazy/kernel.rpi v0.0.0-20251127164438-9778ec0261de
)
