output "kubeconfig" {
  description = "An admin kubeconfig for the cluster."
  value       = talos_cluster_kubeconfig.this.kubeconfig_raw
  sensitive   = true
}

output "gitops_files" {
  description = "The files Weir's bootstrap keeps in the repository."
  value       = keys(weir_bootstrap_git.this.repository_files)
}
