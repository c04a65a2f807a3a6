package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ness-network/ness-sms/agent"
)

// PIPELINE HOOK. The pipeline engineer (agent/pipeline, agent/mqttlink) replaces the stand-in
// below: newPipeline builds the PartSink the supervisor hands every PDU to (the durable outbox)
// and a runner that publishes the supervisor's statuses (Snapshot on each Changes, converted
// with agent.WireStatuses) and the sealed messages over MQTT. Its own settings (MQTT_URL,
// HUB_KEY, CERT, …) go in a struct appended to pipelineConfigs, so `ness-agent --help` lists them
// and they are read and validated with the rest.

// pipeline is what main needs from the pipeline.
type pipeline interface {
	// Sink receives every PDU before it is deleted from the SIM.
	Sink() agent.PartSink
	// Run publishes sup's statuses and the outbox until ctx ends; it returns nil on cancel.
	Run(ctx context.Context, sup *agent.Supervisor) error
	// Close flushes and releases what the pipeline holds (called after the supervisor stopped).
	Close() error
}

// pipelineConfigs are the pipeline's envconfig structs (PIPELINE HOOK: append yours).
var pipelineConfigs []envSpec

// newPipeline builds the pipeline (PIPELINE HOOK: replace the stand-in).
var newPipeline = func(ctx context.Context, cfg *agent.Config, log *slog.Logger) (pipeline, error) {
	log.Warn("no pipeline wired in this build: messages are left on the SIMs, nothing is published")
	return holdPipeline{}, nil
}

// errNoPipeline is what the stand-in sink answers: the message stays on the SIM, so nothing is
// lost while no outbox exists.
var errNoPipeline = errors.New("no pipeline in this build: message kept on the SIM")

// holdPipeline is the stand-in: it refuses every part (so no SMS is deleted) and publishes nothing.
type holdPipeline struct{}

func (holdPipeline) Sink() agent.PartSink { return holdSink{} }
func (holdPipeline) Run(ctx context.Context, sup *agent.Supervisor) error {
	<-ctx.Done()
	return nil
}
func (holdPipeline) Close() error { return nil }

type holdSink struct{}

func (holdSink) StorePart(context.Context, agent.ReceivedPart) error { return errNoPipeline }
