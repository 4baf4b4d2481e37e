// Package field is the vocabulary every part of hookflow's definition
// files shares: durations written as text ("30s", "3d"), a problem at a
// path (Error, which the API's error body lists too) and the list
// validation collects them in, the path helpers that name a field
// (steps[2].then[0].if), and the string rules of the validate tags (ids,
// identifiers, header and secret names).
//
// It sits below flow and flow/trigger, which both validate with it, and
// imports nothing of hookflow.
package field
