package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/molar-pacs/molar/dicomweb"
	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/viewer"
)

// auditTrail turns DICOMweb and DIMSE accesses into audit log entries.
type auditTrail struct{ log *audit.Log }

func (t auditTrail) Record(ctx context.Context, ev dicomweb.Event) error {
	action := "dicomweb." + ev.Action.String()
	if ev.Action == dicomweb.ActionRetrieve {
		action = audit.ActionStudyRetrieve
	}
	return t.log.Record(ctx, audit.Entry{
		User: ev.Caller.User, Role: ev.Caller.Role, Org: ev.Caller.Org, OnBehalfOf: ev.Caller.OnBehalfOf,
		URN: ev.AccessionNumber, NHSNumber: ev.PatientID, Action: action, Resource: ev.Resource,
		ClientAddr: ev.Client, Outcome: audit.OutcomeOK,
	})
}

func (t auditTrail) RecordAccess(ctx context.Context, a dimse.Access) error {
	action, resource := "dimse.find", a.Query
	switch a.Operation {
	case "MWL C-FIND":
		action = "dimse.worklist"
	case "C-MOVE":
		action, resource = audit.ActionDIMSEMove, fmt.Sprintf("study %s (%d instances) to %s", a.StudyUID, a.Instances, a.Destination)
	case "C-GET":
		action, resource = audit.ActionDIMSEGet, fmt.Sprintf("study %s (%d instances)", a.StudyUID, a.Instances)
	}
	return t.log.Record(ctx, audit.Entry{
		URN: a.AccessionNumber, NHSNumber: a.PatientID, Action: action, Resource: resource,
		ClientAddr: a.Client, CallingAE: a.CallingAE, Outcome: audit.OutcomeOK,
	})
}

func (t auditTrail) RecordView(ctx context.Context, v viewer.View) error {
	return t.log.Record(ctx, audit.Entry{User: v.User, Role: v.Role, Org: v.Org, OnBehalfOf: v.OnBehalfOf, URN: v.URN, NHSNumber: v.NHSNumber, Action: v.Action,
		Resource: v.Resource, ClientAddr: v.Client, Outcome: audit.OutcomeOK})
}

// RecordDenial records a request the permission matrix refused: who, for
// which actions, and why. No clinical data was served, so it names no
// patient; the path says what was asked for.
func (t auditTrail) RecordDenial(ctx context.Context, d auth.Denial) error {
	actions := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		actions[i] = string(a)
	}
	p := d.Principal
	return t.log.Record(ctx, audit.Entry{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf,
		Action: "access." + strings.Join(actions, "|"), Resource: d.Method + " " + d.Path, ClientAddr: d.Client,
		Outcome: audit.OutcomeDenied, Detail: d.Reason})
}
