package main

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	aimeshRelease   = "aimesh"
	modelServerName = "vllm" // Deployment and Service of the sample model server
	modelServerPort = 8000
	nvidiaRepo      = "https://nvidia.github.io/k8s-device-plugin"
	// nlbAnnotation makes the in-tree AWS cloud provider (run by EKS in the
	// control plane) give a LoadBalancer Service an internet-facing NLB;
	// docs/eks.md says why this rather than the AWS Load Balancer Controller.
	nlbAnnotation = "service.beta.kubernetes.io/aws-load-balancer-type"
)

// gpuToleration lets a pod onto the tainted GPU nodes.
var gpuToleration = map[string]any{"key": gpuTaintKey, "operator": "Exists", "effect": "NoSchedule"}

// kubeProvider is the Kubernetes provider for the new cluster.
func (d *deployer) kubeProvider(cl *Cluster) error {
	args := &kubernetes.ProviderArgs{Kubeconfig: cl.Kubeconfig}
	d.tw("kube", args)
	p, err := kubernetes.NewProvider(d.ctx, "kube", args)
	if err != nil {
		return fmt.Errorf("kubernetes provider: %w", err)
	}
	d.kubeOpt = pulumi.Provider(p)
	return nil
}

// devicePlugin installs the NVIDIA device plugin on the GPU nodes, which
// advertises nvidia.com/gpu so pods can request GPUs (the AL2023 NVIDIA
// AMI brings the driver and container toolkit, not the plugin).
func (d *deployer) devicePlugin(cl *Cluster) (*helmv3.Release, error) {
	args := &helmv3.ReleaseArgs{
		Name:           pulumi.String("nvidia-device-plugin"),
		Chart:          pulumi.String("nvidia-device-plugin"),
		Version:        pulumi.String(d.cfg.NvidiaDevicePluginVersion),
		RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(nvidiaRepo)},
		Namespace:      pulumi.String("kube-system"),
		Values: pulumi.ToMap(map[string]any{
			"nodeSelector": map[string]any{gpuPresent: "true"},
			"tolerations": []any{gpuToleration,
				map[string]any{"key": "CriticalAddonsOnly", "operator": "Exists"}},
		}),
	}
	d.tw("nvidia-device-plugin", args)
	deps := append([]pulumi.Resource{cl.GPUNodes}, cl.Ready...)
	r, err := helmv3.NewRelease(d.ctx, "nvidia-device-plugin", args, d.kubeOpt, pulumi.DependsOn(deps))
	if err != nil {
		return nil, fmt.Errorf("nvidia device plugin: %w", err)
	}
	return r, nil
}

// aimeshValues are the chart values this program sets, with the user's
// aimeshValues merged over them.
func aimeshValues(cfg Config) map[string]any {
	v := map[string]any{
		// Serve the seed's Mesh by name rather than "the only Mesh".
		"mesh":         meshName,
		"replicaCount": cfg.AimeshReplicas,
		"gateway": map[string]any{
			"port": cfg.GatewayPort,
			"service": map[string]any{
				"type":        "LoadBalancer",
				"annotations": map[string]any{nlbAnnotation: "nlb"},
			},
		},
		"serviceMonitor": map[string]any{"enabled": false},
	}
	image := map[string]any{}
	if cfg.AimeshImageRepository != "" {
		image["repository"] = cfg.AimeshImageRepository
	}
	if cfg.AimeshImageTag != "" {
		image["tag"] = cfg.AimeshImageTag
	}
	if len(image) > 0 {
		v["image"] = image
	}
	return mergeValues(v, cfg.AimeshValues)
}

// mergeValues merges over into base like Helm merges values files: maps
// merge key by key, anything else in over replaces. base is not modified.
func mergeValues(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, ov := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := ov.(map[string]any)
		if bok && ook {
			out[k] = mergeValues(bm, om)
			continue
		}
		out[k] = ov
	}
	return out
}

// aimesh installs the aimesh chart (its CRDs, the control plane and the
// gateway) and reads back the gateway Service for its NLB hostname.
func (d *deployer) aimesh(cl *Cluster) (*helmv3.Release, pulumi.StringOutput, error) {
	cfg := d.cfg
	args := &helmv3.ReleaseArgs{
		Name:            pulumi.String(aimeshRelease),
		Chart:           pulumi.String(cfg.AimeshChart),
		Namespace:       pulumi.String(cfg.AimeshNamespace),
		CreateNamespace: pulumi.Bool(true),
		Values:          pulumi.ToMap(aimeshValues(cfg)),
		// Helm waits for the gateway Service's NLB hostname; NLBs take minutes.
		Timeout: pulumi.Int(900),
	}
	d.tw(aimeshRelease, args)
	rel, err := helmv3.NewRelease(d.ctx, aimeshRelease, args, d.kubeOpt, pulumi.DependsOn(cl.Ready))
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("aimesh release: %w", err)
	}
	svc, err := corev1.GetService(d.ctx, "gateway-service",
		pulumi.ID(cfg.AimeshNamespace+"/"+cfg.GatewayServiceName), nil,
		d.kubeOpt, pulumi.DependsOn([]pulumi.Resource{rel}))
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("read gateway service: %w", err)
	}
	host := svc.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Hostname()
	port := svc.Spec.Ports().Index(pulumi.Int(0)).Port()
	url := pulumi.All(host, port).ApplyT(func(v []any) string {
		h, _ := v[0].(*string)
		if h == nil || *h == "" {
			return "pending: the NLB has no hostname yet; run `pulumi refresh`"
		}
		return fmt.Sprintf("http://%s:%d", *h, v[1].(int))
	}).(pulumi.StringOutput)
	return rel, url, nil
}

// modelServer declares the sample vLLM Deployment and Service on the GPU
// nodes, in the namespace that also holds the mesh resources.
func (d *deployer) modelServer(ns *corev1.Namespace, plugin *helmv3.Release) error {
	cfg := d.cfg
	labels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(modelServerName)}
	var env corev1.EnvVarArray
	if cfg.HFToken != "" {
		sec := &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("hf-token"), Namespace: ns.Metadata.Name()},
			StringData: pulumi.StringMap{"token": pulumi.ToSecret(pulumi.String(cfg.HFToken)).(pulumi.StringOutput)},
		}
		d.tw("hf-token", sec)
		if _, err := corev1.NewSecret(d.ctx, "hf-token", sec, d.kubeOpt); err != nil {
			return fmt.Errorf("hugging face token secret: %w", err)
		}
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String("HF_TOKEN"), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String("hf-token"), Key: pulumi.String("token")}}})
	}
	probe := func(period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String("/health"), Port: pulumi.Int(modelServerPort)},
			PeriodSeconds:    pulumi.Int(period),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	gpu := pulumi.StringMap{"nvidia.com/gpu": pulumi.String("1")}
	dep := &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(modelServerName), Namespace: ns.Metadata.Name(), Labels: labels,
			// Do not wait for the rollout: pulling the image and the weights
			// outlasts the provider's timeout; docs/eks.md waits with kubectl.
			Annotations: pulumi.StringMap{"pulumi.com/skipAwait": pulumi.String("true")},
		},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(cfg.ModelServerReplicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					NodeSelector: pulumi.StringMap{gpuPresent: pulumi.String("true")},
					Tolerations: corev1.TolerationArray{corev1.TolerationArgs{
						Key: pulumi.String(gpuTaintKey), Operator: pulumi.String("Exists"), Effect: pulumi.String("NoSchedule")}},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:    pulumi.String(modelServerName),
						Image:   pulumi.String(cfg.ModelServerImage),
						Command: pulumi.ToStringArray([]string{"vllm", "serve"}),
						Args: pulumi.ToStringArray([]string{cfg.Model,
							"--served-model-name", cfg.ServedModelName,
							"--port", strconv.Itoa(modelServerPort),
							"--max-model-len", strconv.Itoa(cfg.MaxModelLen)}),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name: pulumi.String("http"), ContainerPort: pulumi.Int(modelServerPort)}},
						Env: env,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("2"), "memory": pulumi.String("10Gi"),
								"nvidia.com/gpu": pulumi.String("1")},
							Limits: gpu,
						},
						// Downloading and loading the weights takes minutes.
						StartupProbe:   probe(10, 90),
						ReadinessProbe: probe(5, 3),
						LivenessProbe:  probe(15, 4),
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String("shm"), MountPath: pulumi.String("/dev/shm")},
							corev1.VolumeMountArgs{Name: pulumi.String("cache"), MountPath: pulumi.String("/root/.cache/huggingface")},
						},
					}},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{Name: pulumi.String("shm"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{
							Medium: pulumi.String("Memory"), SizeLimit: pulumi.String("2Gi")}},
						corev1.VolumeArgs{Name: pulumi.String("cache"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
					},
				},
			},
		},
	}
	d.tw(modelServerName, dep)
	if _, err := appsv1.NewDeployment(d.ctx, modelServerName, dep, d.kubeOpt,
		pulumi.DependsOn([]pulumi.Resource{plugin})); err != nil {
		return fmt.Errorf("model server deployment: %w", err)
	}
	svc := &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(modelServerName), Namespace: ns.Metadata.Name(), Labels: labels},
		Spec: &corev1.ServiceSpecArgs{
			Selector: labels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(modelServerPort), TargetPort: pulumi.Int(modelServerPort)}},
		},
	}
	d.tw(modelServerName+"-svc", svc)
	if _, err := corev1.NewService(d.ctx, modelServerName, svc, d.kubeOpt); err != nil {
		return fmt.Errorf("model server service: %w", err)
	}
	return nil
}

// namespace declares a namespace with exactly the given name and labels.
func (d *deployer) namespace(name string, labels map[string]string, deps []pulumi.Resource) (*corev1.Namespace, error) {
	args := &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{
		Name: pulumi.String(name), Labels: pulumi.ToStringMap(labels)}}
	d.tw("ns-"+name, args)
	ns, err := corev1.NewNamespace(d.ctx, "ns-"+name, args, d.kubeOpt, pulumi.DependsOn(deps))
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	return ns, nil
}
