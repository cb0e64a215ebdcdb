import './base.css';
import './instructor.css';
