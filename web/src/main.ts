import { createApp } from 'vue'
import App from './ui/App.vue'
import './ui/styles.css'

createApp(App).mount('#app')
