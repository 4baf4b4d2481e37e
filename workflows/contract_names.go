package workflows

import "github.com/hookflow/hookflow/contract"

// Names moved to package contract, kept here while the interpreter's files
// still use them unqualified (to be removed).

const TaskQueue = contract.TaskQueue
const SyncTaskQueue = contract.SyncTaskQueue
const WebhookTaskQueue = contract.WebhookTaskQueue
const WorkflowName = contract.WorkflowName
const UpdateResponse = contract.UpdateResponse
const QuerySteps = contract.QuerySteps
const QueryInput = contract.QueryInput
const MemoTriggerDigest = contract.MemoTriggerDigest

var SearchAttrFlowID = contract.SearchAttrFlowID
var SearchAttrFlowVersion = contract.SearchAttrFlowVersion
var SearchAttrTriggerMode = contract.SearchAttrTriggerMode
var SearchAttrRecoveryOf = contract.SearchAttrRecoveryOf
var SearchAttributeTypes = contract.SearchAttributeTypes

type Input = contract.Input

const EngineLocalFirstAttempt = contract.EngineLocalFirstAttempt
const CurrentEngine = contract.CurrentEngine

type Response = contract.Response
type Result = contract.RunResult

const ErrorTypeStepFailed = contract.ErrorTypeStepFailed
const ErrorTypeEnded = contract.ErrorTypeEnded
const ErrorTypeIdempotencyKeyReused = contract.ErrorTypeIdempotencyKeyReused

var WorkflowID = contract.WorkflowID
var QueueFor = contract.QueueFor
var StartOptions = contract.StartOptions

const StatusRunning = contract.StatusRunning
const StatusSucceeded = contract.StatusSucceeded
const StatusFailed = contract.StatusFailed
const StatusSkipped = contract.StatusSkipped
const StatusCancelled = contract.StatusCancelled
const MaxStepLog = contract.MaxStepLog

type StepRecord = contract.StepRecord
type Delivery = contract.Delivery
type StepLog = contract.StepLog
type Carry = contract.Carry
type Cursor = contract.Cursor
type StepCursor = contract.StepCursor
type ActiveItem = contract.ActiveItem

const UpdateEvent = contract.UpdateEvent
const ErrorTypeEventNotWaiting = contract.ErrorTypeEventNotWaiting
const ErrorTypeEventNoMatch = contract.ErrorTypeEventNoMatch
const ErrorTypeEventInvalid = contract.ErrorTypeEventInvalid
const ErrorTypeHandingOver = contract.ErrorTypeHandingOver

type Event = contract.Event
type EventLink = contract.EventLink
type EventAccepted = contract.EventAccepted

const RedeliverWorkflowName = contract.RedeliverWorkflowName

var SearchAttrRedeliveryOf = contract.SearchAttrRedeliveryOf

const MemoRedeliveryOf = contract.MemoRedeliveryOf
const MemoDeliveryID = contract.MemoDeliveryID
const MemoIdempotencyKey = contract.MemoIdempotencyKey
const ErrorTypeRedeliveryFailed = contract.ErrorTypeRedeliveryFailed

var RedeliverWorkflowID = contract.RedeliverWorkflowID

type RedeliverInput = contract.RedeliverInput
type RedeliverResult = contract.RedeliverResult

const ReplayWorkflowName = contract.ReplayWorkflowName
const QueryReplayProgress = contract.QueryReplayProgress
const ReplayRerun = contract.ReplayRerun
const ReplayResume = contract.ReplayResume

type ReplayInput = contract.ReplayInput
type ReplayProgress = contract.ReplayProgress
type ReplayStarted = contract.ReplayStarted
type ReplayError = contract.ReplayError

const NotifyWorkflowName = contract.NotifyWorkflowName
const LocalActivityMarker = contract.LocalActivityMarker
const EngineTaskBudget = contract.EngineTaskBudget
