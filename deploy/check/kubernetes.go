package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization these manifests
// use; anything else is refused rather than ignored.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

// object is one decoded manifest and where it came from.
type object struct {
	where string // file[doc] Kind name
	obj   runtime.Object
}

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

func checkKubernetes(dir string) []string {
	kfile := filepath.Join(dir, "kustomization.yaml")
	raw, err := os.ReadFile(kfile)
	if err != nil {
		return []string{err.Error()}
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		return []string{fmt.Sprintf("%s: %v", kfile, err)}
	}
	var problems []string
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		problems = append(problems, fmt.Sprintf("%s: want apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization", kfile))
	}
	var objs []object
	for _, r := range k.Resources {
		got, errs := decodeFile(filepath.Join(dir, r))
		objs = append(objs, got...)
		problems = append(problems, errs...)
	}
	return append(problems, checkObjects(objs)...)
}

// decodeFile strictly decodes every document of a manifest file.
func decodeFile(path string) ([]object, []string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var objs []object
	var problems []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return objs, append(problems, fmt.Sprintf("%s[%d]: %v", filepath.Base(path), i, err))
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			i--
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s[%d]: %v", filepath.Base(path), i, err))
			continue
		}
		name := ""
		if m, ok := obj.(metav1.Object); ok {
			name = m.GetName()
		}
		if name == "" {
			problems = append(problems, fmt.Sprintf("%s[%d] %s: metadata.name is required", filepath.Base(path), i, gvk.Kind))
		}
		objs = append(objs, object{where: fmt.Sprintf("%s[%d] %s %s", filepath.Base(path), i, gvk.Kind, name), obj: obj})
	}
	return objs, problems
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// checkObjects applies the rules that span objects.
func checkObjects(objs []object) []string {
	var problems []string
	bad := func(where, format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	deployments := map[string]*appsv1.Deployment{}
	configMaps, secrets := map[string]bool{}, map[string]*corev1.Secret{}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			deployments[v.Name] = v
		case *corev1.ConfigMap:
			configMaps[v.Name] = true
		case *corev1.Secret:
			secrets[v.Name] = v
		}
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			checkDeployment(o.where, v, configMaps, secrets, bad)
		case *corev1.Service:
			d := selected(deployments, v.Spec.Selector)
			if d == nil {
				bad(o.where, "spec.selector %v selects no Deployment's pods", v.Spec.Selector)
				continue
			}
			for i, p := range v.Spec.Ports {
				if !hasPort(d.Spec.Template.Spec.Containers, p.TargetPort) {
					bad(o.where, "spec.ports[%d].targetPort %s is not a port of Deployment %s", i, p.TargetPort.String(), d.Name)
				}
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := v.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" || deployments[ref.Name] == nil {
				bad(o.where, "spec.scaleTargetRef: no Deployment %q here", ref.Name)
			}
			if v.Spec.MinReplicas != nil && *v.Spec.MinReplicas > v.Spec.MaxReplicas {
				bad(o.where, "spec.minReplicas exceeds spec.maxReplicas")
			}
		case *policyv1.PodDisruptionBudget:
			sel, err := metav1.LabelSelectorAsSelector(v.Spec.Selector)
			if err != nil || !anySelected(deployments, sel) {
				bad(o.where, "spec.selector selects no Deployment's pods")
			}
		}
	}
	return problems
}

func checkDeployment(where string, d *appsv1.Deployment, configMaps map[string]bool, secrets map[string]*corev1.Secret, bad func(string, string, ...any)) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		bad(where, "spec.selector does not match spec.template.metadata.labels")
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		bad(where, "spec.template.spec.securityContext.runAsNonRoot must be true")
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && secrets[v.Secret.SecretName] == nil {
			bad(where, "volume %s: Secret %q is not defined here", v.Name, v.Secret.SecretName)
		}
	}
	for i, c := range pod.Containers {
		at := fmt.Sprintf("%s: spec.template.spec.containers[%d]", where, i)
		if c.Image == "" {
			bad(at, "image is required")
		}
		for _, r := range []struct {
			list corev1.ResourceList
			name corev1.ResourceName
			what string
		}{{c.Resources.Requests, corev1.ResourceCPU, "resources.requests.cpu"}, {c.Resources.Requests, corev1.ResourceMemory, "resources.requests.memory"}, {c.Resources.Limits, corev1.ResourceMemory, "resources.limits.memory"}} {
			if _, ok := r.list[r.name]; !ok {
				bad(at, "%s is required", r.what)
			}
		}
		for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
			switch {
			case p == nil:
				bad(at, "%s is required", name)
			case p.HTTPGet != nil && !hasPort([]corev1.Container{c}, p.HTTPGet.Port):
				bad(at, "%s.httpGet.port %s is not a port of this container", name, p.HTTPGet.Port.String())
			}
		}
		if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			bad(at, "securityContext.allowPrivilegeEscalation must be false")
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil && !configMaps[e.ConfigMapRef.Name] {
				bad(at, "envFrom: ConfigMap %q is not defined here", e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil && secrets[e.SecretRef.Name] == nil {
				bad(at, "envFrom: Secret %q is not defined here", e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			s := secrets[ref.Name]
			if s == nil {
				bad(at, "env %s: Secret %q is not defined here", e.Name, ref.Name)
				continue
			}
			if _, ok := s.StringData[ref.Key]; !ok {
				if _, ok := s.Data[ref.Key]; !ok {
					bad(at, "env %s: Secret %q has no key %q", e.Name, ref.Name, ref.Key)
				}
			}
		}
		// The pod must outlive hookflow's own drain or shutdown timeout,
		// plus the preStop pause, or Kubernetes kills it mid-drain.
		need := time.Duration(0)
		for _, a := range c.Args {
			for _, flag := range []string{"--drain-timeout=", "--shutdown-timeout="} {
				if v, ok := strings.CutPrefix(a, flag); ok {
					d, err := time.ParseDuration(v)
					if err != nil {
						bad(at, "args: %s: %v", a, err)
					}
					need += d
				}
			}
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			need += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		if time.Duration(grace)*time.Second <= need {
			bad(at, "terminationGracePeriodSeconds %d does not outlast the drain/shutdown timeout and preStop (%s)", grace, need)
		}
	}
}

// selected is the Deployment whose pods a Service selector picks.
func selected(deployments map[string]*appsv1.Deployment, selector map[string]string) *appsv1.Deployment {
	if len(selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(selector)
	for _, d := range deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	return nil
}

func anySelected(deployments map[string]*appsv1.Deployment, sel labels.Selector) bool {
	if sel.Empty() {
		return false
	}
	for _, d := range deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return true
		}
	}
	return false
}

func hasPort(containers []corev1.Container, port intstr.IntOrString) bool {
	for _, c := range containers {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}
