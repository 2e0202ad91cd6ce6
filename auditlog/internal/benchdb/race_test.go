//go:build race

package benchdb

const raceDetector = true
